"""The scheduler: converges dynos to each app's formation and deploys releases without downtime.

Run as `wharfd scheduler`. Other components talk to it through the database (formation, releases)
and through `notify` (wake-ups and restart requests); deploy progress comes back through `progress`.
"""
