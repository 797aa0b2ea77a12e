#[monitored_tool(skip_all)]
fn call<'life0, 'async_trait>(
    &'life0 self,
    input: String,
) -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = Result<usize, Error>> + ::core::marker::Send + 'async_trait>>
where
    'life0: 'async_trait,
    Self: 'async_trait,
{
    Box::pin(async move {
        let __self = self;
        let input = input;
        let __ret: Result<usize, Error> = { Ok(input.len()) };
        __ret
    })
}
