"""Pure helpers with no models: environment parsing, tokens, addresses."""
