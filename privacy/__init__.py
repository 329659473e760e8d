"""Keeping patients' personal details out of what the assistant stores."""
