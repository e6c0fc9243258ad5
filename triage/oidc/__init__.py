"""Single sign-on through an OpenID Connect provider, on mozilla-django-oidc.

The library keeps the flow's state, nonce and PKCE verifier in the session and checks them;
this package adds what the portal needs around it: the provider's endpoints read from its
discovery document, every request to the provider made through the outbound guard, the ID
token's issuer and audience checked too, and each failure turned into a `SignInFailed` with a
reason the sign-in page explains.
"""
