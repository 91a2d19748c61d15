"""Many hosts as one Docker Swarm: the first node (`wharfd cluster init`), joining and leaving, the node
list with the dynos and free resources of each, draining and removing a node.

Swarm is driven through the Docker SDK against the local engine, which must be a manager for everything
but joining.
"""
