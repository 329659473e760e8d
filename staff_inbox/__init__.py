"""The staff inbox: a web app for clinic staff, in its own process, reading the conversations'
database. See docs/staff-inbox.md."""
