"""The UI's routes, one router per page family; `create_app` includes them in this order."""
