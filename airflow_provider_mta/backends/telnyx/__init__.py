"""Telnyx (API v2): everything that knows Telnyx's field names, statuses, error bodies and webhook signature."""
