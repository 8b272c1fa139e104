"""Running the app for a unit's staff: who may use it and as what, and where it may listen.

- ``lemof.deploy.access``: roles (viewer, trainer) from an identity-provider claim or an allow-list;
- ``lemof.deploy.server``: the sign-in settings (``[auth]``, ``[lemof_access]``), the bind-address
  rule and the checks ``python -m lemof serve`` runs before it starts Streamlit.

See docs/DEPLOY.md.
"""
