"""Service functions: the rules of the control plane, called by the API and by `wharfd`."""
