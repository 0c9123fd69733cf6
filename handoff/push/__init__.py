"""Push delivery: the outbox, the senders (FCM, Web Push) and the worker that drains it."""
