"""API metering: token buckets per token, account and address, and requests counted per account per day."""
