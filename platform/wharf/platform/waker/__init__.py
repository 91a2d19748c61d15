"""The waker: answers the requests of apps whose web type sleeps (autoscaled to zero when idle)."""
