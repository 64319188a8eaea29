/** What the notification workflow and its activities exchange. */

export interface NotificationInput {
  cancelOrderId: string;
  /** Delay before each attempt; default seed 000's 0/30/60/90/120/150 s. */
  scheduleMs?: number[];
  /**
   * Carry on a round the cancellation's run began with its own first attempt (failed): no new
   * round, attempts from `fromAttempt` on, each after its delay in the schedule.
   */
  carryOn?: { round: number; fromAttempt: number };
}

/** The first attempt, made by the cancellation's own run (activities/notification.ts). */
export interface FirstNotificationResult {
  notificationId: string;
  round: number;
  delivered: boolean;
  /** The round is over (delivered, or no attempt left in the schedule). */
  finished: boolean;
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
