"""Published trainer binaries: what a pex says about itself, references to it, and the store that keeps it."""
