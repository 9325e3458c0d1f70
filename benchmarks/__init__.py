"""The project's benchmarks, run from the project's folder as modules:

    python -m benchmarks.custom_images

so that they import the project's modules (common, predict) and each other's
(benchmarks.synthetic, the synthetic pictures; benchmarks.sets, what the sets share) as any
package does, with no change to sys.path.
"""
