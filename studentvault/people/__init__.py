"""Staff accounts, vendors and contracts, security training and policy acknowledgement."""
