"""Views of the /v2 API. They parse input and call services/selectors, nothing more."""
