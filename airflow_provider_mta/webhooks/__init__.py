"""Receiving SMS vendors' webhooks: verify the signature, then parse the body into vendor-neutral events."""
