"""The API's OpenAPI 3.1 document, generated from the marshmallow schemas, and its Swagger UI page."""
