"""Sign-in, sessions and signatures (21 CFR Part 11 §11.10, §11.300).

``keys``       the secret key: refused when missing, shipped or short
``csrf``       CSRF protection, same-origin checks on the API, cookie flags
``passwords``  the password policy (length, user name, common passwords)
``lockout``    failed sign-ins and signatures: recorded, and the account locked
``manager``    the Flask-AppBuilder security manager that wires them in
``views``      the administrators' read-only screen and API of failures
"""
