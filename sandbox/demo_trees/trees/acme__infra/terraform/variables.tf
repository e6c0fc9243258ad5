variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "environment" {
  type    = string
  default = "prod"
}

variable "admin_cidr_blocks" {
  description = "Office and VPN ranges allowed to reach bastion hosts."
  type        = list(string)
  default     = ["203.0.113.0/24"]
}

variable "db_password" {
  type      = string
  sensitive = true
}
