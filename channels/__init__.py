"""Messaging channels: Twilio (SMS, WhatsApp) and Telegram, as thin Rasa input channels.

Buttons become numbered text options (text_options.py); credentials come only from the
environment, and a channel without them is off, with a log line that says so.
"""
