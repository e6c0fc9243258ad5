data "aws_iam_policy_document" "deployer" {
  statement {
    sid       = "DeployEverything"
    effect    = "Allow"
    actions   = ["*"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "deployer" {
  name   = "ci-deployer-${var.environment}"
  policy = data.aws_iam_policy_document.deployer.json
}
