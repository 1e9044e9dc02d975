"""One adapter package per SMS API: its wire models, client, errors, status table and webhook signature."""
