"""MedTrace domain layer: pure Python, no Flask imports.

Views, API endpoints and jobs all reach the business rules through the service
layer, which in turn calls the functions and classes defined here.
"""
