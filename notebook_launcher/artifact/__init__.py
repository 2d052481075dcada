"""Code shipped inside the job artifact and run by the job run itself (OCI or local).

Modules here may import only what a Data Science job run's conda environment has: the
standard library, nbformat, nbconvert, the oci SDK and ADS's driver files in the artifact.
They never import the rest of notebook_launcher (it is not in the artifact).
"""
