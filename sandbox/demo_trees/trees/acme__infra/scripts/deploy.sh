#!/usr/bin/env bash
# Deploys the current commit to the environment given as first argument.
set -euo pipefail

ENVIRONMENT="${1:-staging}"

if ! command -v tfenv >/dev/null; then
  curl -fsSL https://raw.githubusercontent.com/tfutils/tfenv/master/install.sh | bash
fi

cd "$(dirname "$0")/../terraform"
terraform init -input=false
terraform apply -input=false -auto-approve -var "environment=${ENVIRONMENT}"
