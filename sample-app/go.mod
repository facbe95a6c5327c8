module example.com/sample-app

go 1.26
