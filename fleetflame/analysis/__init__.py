"""Analyses of a capture's fleet stacks: which host's tile differs from the rest of the fleet
(`skew`), with the statistics they share (`stats`) and the per-host, per-tile counts they read
(`counts`)."""
