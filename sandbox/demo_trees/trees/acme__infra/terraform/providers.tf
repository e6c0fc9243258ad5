terraform {
  required_version = ">= 1.4"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 4.60"
    }
  }
}

provider "aws" {
  region     = var.region
  access_key = "AKIAJ3QW7X2KD4LMNO5P"
  secret_key = "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"
}
