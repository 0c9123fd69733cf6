"""Contacts: a per-user address book, name resolution for spoken commands, and the user's
preferences (time zone)."""
