/** What the notification workflow and its activities exchange. */

export interface NotificationInput {
  cancelOrderId: string;
  /** Delay before each attempt; default seed 000's 0/30/60/90/120/150 s. */
  scheduleMs?: number[];
}

export interface NotificationResult {
  notificationId: string;
  cancelOrderId: string;
  round: number;
  delivered: boolean;
  attempts: number;
}

export interface NotificationAttemptResult {
  success: boolean;
  httpStatus?: number;
  error?: string;
}
