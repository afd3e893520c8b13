"""Purpose-built REST endpoints (domain actions). Each endpoint parses its
input with marshmallow, calls one service function and maps domain errors."""
