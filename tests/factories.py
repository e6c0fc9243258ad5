import factory
from django.contrib.auth import get_user_model

from triage.models import KolegaConnection, Membership, Role, Team

TEST_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.VIEWER


class KolegaConnectionFactory(factory.django.DjangoModelFactory):
    """A stored connection without a key check; use the sandbox fixtures for a real one."""

    class Meta:
        model = KolegaConnection

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Org {n}")
    base_url = "http://sandbox.test/sandbox"
    api_key = factory.Sequence(lambda n: f"kcp_test_factorykey{n:08d}")
    organization_id = factory.Sequence(lambda n: f"org-{n}")
    organization_name = factory.LazyAttribute(lambda c: c.name)
    organization_slug = factory.LazyAttribute(lambda c: c.organization_id)
    key_prefix = "kcp_test_fac"
    scopes = factory.LazyFunction(lambda: ["read", "write"])
