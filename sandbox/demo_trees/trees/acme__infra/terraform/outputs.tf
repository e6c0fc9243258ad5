output "receipts_bucket" {
  value = aws_s3_bucket.receipts.bucket
}

output "database_endpoint" {
  value = aws_db_instance.payments.endpoint
}
