resource "aws_db_instance" "payments" {
  identifier          = "payments-${var.environment}"
  engine              = "postgres"
  engine_version      = "14.7"
  instance_class      = "db.t3.medium"
  allocated_storage   = 100
  username            = "payments"
  password            = "Pr0d-Payments-2023!"
  storage_encrypted   = true
  skip_final_snapshot = false
  publicly_accessible = false
}
