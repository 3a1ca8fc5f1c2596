// Training objectives on logits.
import type { Tf, TfTensor } from '../ir/op.js';

/** Mean softmax cross-entropy of integer labels. */
export function crossEntropy(tf: Tf, logits: TfTensor, labels: TfTensor): TfTensor {
  const classes = logits.shape[logits.shape.length - 1]!;
  return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, classes), logits);
}

/**
 * Hinton et al. (2015) distillation: α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)) + (1 − α)·CE(y, z_s),
 * KL averaged over samples. T² keeps the soft term's gradients at the scale of the hard term's.
 */
export function distillationLoss(tf: Tf, student: TfTensor, teacher: TfTensor, labels: TfTensor | undefined, temperature: number, alpha: number): TfTensor {
  const t = temperature;
  const logQs = tf.logSoftmax(tf.div(student, t));
  const logPt = tf.logSoftmax(tf.div(teacher, t));
  const kl = tf.mean(tf.sum(tf.mul(tf.exp(logPt), tf.sub(logPt, logQs)), -1));
  const soft = tf.mul(kl, alpha * t * t);
  if (!labels || alpha >= 1) return soft;
  return tf.add(soft, tf.mul(crossEntropy(tf, student, labels), 1 - alpha));
}
