"""The image registry Wharf runs on a swarm's manager, so that every node pulls release images from it:
its image (Debian's docker-registry package on the run stack), its server and certificate from Wharf's
local authority, the nodes' trust in that authority, and pushing and collecting release images."""
