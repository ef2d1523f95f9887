"""Every combination of the pattern bases, in both inheritance orders, and one tenant
invoice/line tree for the integration tests across the composition."""
