"""App logs: one Redis stream per app, the dyno log shipper, and log drains.

`wharf.platform.logs.stream` needs only `redis`, so other processes (the router) can write with it.
"""
