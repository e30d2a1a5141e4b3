"""The read-only REST API under ``/api/``: ``base`` holds what every endpoint uses, ``urls`` the routes."""
