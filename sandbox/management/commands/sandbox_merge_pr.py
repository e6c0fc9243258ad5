from sandbox.management.commands._pull_request import PullRequestCommand
from sandbox.services.fixes import pull_request_merge


class Command(PullRequestCommand):
    help = "Merge a sandbox pull request: apply its diff to the source tree, resolve its findings."

    def act(self, pull_request) -> str:
        merged = pull_request_merge(pull_request=pull_request)
        return f"Merged {merged.pr_url} at {merged.merged_at:%Y-%m-%d %H:%M}"
