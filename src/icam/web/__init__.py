"""The web app: ``icam serve PROJECT`` (:func:`icam.web.app.create_app`), its roles, accounts and pages."""
