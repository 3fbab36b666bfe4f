"""Search by business value: the index the runner keeps (hub.search.index) and the chains ``hub trace`` follows."""
