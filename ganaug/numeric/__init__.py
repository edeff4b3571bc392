"""Numeric helpers with no ganaug imports: SSIM, AUC and paired statistics, decision thresholds."""
