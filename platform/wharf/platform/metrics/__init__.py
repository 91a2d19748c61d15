"""Per-app metrics: router timings, dyno resources and the app's own statsd series, per minute."""
