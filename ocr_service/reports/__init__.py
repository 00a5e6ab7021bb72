"""Reports built from the audit log (利用状況報告 for the privacy council)."""
