"""The REST API under /api/: one module per resource, its serializers beside its views.

Views are thin: they check input with a serializer, call a service or a selector, and
answer with a serializer. Every owner route's queryset is scoped to its user (admins see
all), so another user's object is a 404.
"""
