"""What ftbot sends to or asks of Slack outside a listener: delivery, replies, approvers, charts."""
