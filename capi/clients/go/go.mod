module gasket.invalid/capi-client

go 1.19
