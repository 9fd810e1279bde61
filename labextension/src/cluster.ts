import { ICluster, requestAPI } from './request';

/**
 * The root's cluster in one line ('local: 4 nodes, up to 4 cores, 4 GB, 4 GPUs'), or null
 * for a root with no driver (quietly); `problem` says why the server could not describe it.
 */
export async function clusterLine(
  root: string
): Promise<{ line: string | null; problem: string | null }> {
  try {
    const info = await requestAPI<ICluster>('cluster', { root });
    if (info.driver === null) {
      return { line: null, problem: null };
    }
    const memory = info.max_memory === null ? '' : `, ${info.max_memory} GB`;
    const nodes = `${info.nodes.length} node${info.nodes.length === 1 ? '' : 's'}`;
    const gpus = info.nodes.reduce((sum, node) => sum + (node.gpus ?? 0), 0);
    const gpuText = gpus ? `, ${gpus} GPU${gpus === 1 ? '' : 's'}` : '';
    return {
      line: `${info.driver}: ${nodes}, up to ${info.max_cores} cores${memory}${gpuText}`,
      problem: null
    };
  } catch (error) {
    return { line: null, problem: (error as Error).message };
  }
}
