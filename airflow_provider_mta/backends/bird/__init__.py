"""Bird (Channels API): everything that knows Bird's field names, statuses, error bodies and webhook signature."""
