"""Shared REST pieces: Fleet's error bodies, envelopes, pagination and versioned mounting."""
